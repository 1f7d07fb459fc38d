/* dtrace: -q */
self int depth;
int total;

BEGIN
{
	self->depth = 3;
	this->local = 10;
	total = self->depth + this->local;
	a["x", 1] = total;
	a["y", 2] = 7;
	printf("%d %d %d\n", total, a["x", 1], a["y", 2]);
	/* missing elements read as zero; assigning zero deletes */
	printf("%d\n", a["z", 3]);
	a["x", 1] = 0;
	printf("%d\n", a["x", 1]);
}

BEGIN
{
	printf("this-> lasts the whole firing: %d\n", this->local);
	exit(0);
}
