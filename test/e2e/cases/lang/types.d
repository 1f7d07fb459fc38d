/* dtrace: -q */
struct point {
	int x;
	int y;
	char name[8];
};

union u {
	int i;
	char c[4];
};

enum color { RED, GREEN = 5, BLUE };

typedef struct point point_t;

struct point p;
point_t q;

BEGIN
{
	p.x = 1;
	p.y = 2;
	q.x = p.x + p.y;
	printf("%d %d %d\n", p.x, p.y, q.x);
	printf("%d %d %d %d\n", sizeof (struct point), sizeof (union u), sizeof (point_t), sizeof (p));
	printf("%d %d\n", offsetof(struct point, y), offsetof(struct point, name));
	printf("%d %d %d\n", RED, GREEN, BLUE);
	this->c = BLUE;
	printf("%s\n", this->c == BLUE ? "blue" : "not blue");
	exit(0);
}
