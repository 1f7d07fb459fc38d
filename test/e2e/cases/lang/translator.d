/* dtrace: -q */
struct in {
	int i;
};

struct out {
	int doubled;
	int plus_one;
};

translator struct out < struct in *p > {
	doubled = p->i * 2;
	plus_one = p->i + 1;
};

inline int answer = 42;

BEGIN
{
	this->p = (struct in *)alloca(sizeof (struct in));
	this->p->i = 20;
	printf("%d %d %d\n", xlate<struct out *>(this->p)->doubled,
	    xlate<struct out *>(this->p)->plus_one, answer);
	exit(0);
}
