/* dtrace: -q */
struct item {
	int id;
	char name[4];
	long count;
};

BEGIN
{
	this->p = (struct item *)alloca(sizeof (struct item));
	this->p->id = 7;
	this->p->count = 1234;
	print(this->p);
	printf("\n");
	exit(0);
}
