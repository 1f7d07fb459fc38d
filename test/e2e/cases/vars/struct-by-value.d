/* dtrace: -q */
/* a struct is assigned by value: later changes to the source do not show in the copies */
this struct { int a; } val;
struct { int a; } g;

BEGIN
{
	this->val.a = 1;
	arr[1] = this->val;
	self->s = this->val;
	g = this->val;
	this->val.a = 2;
	arr[2] = this->val;
	arr[1] = 0;
	printf("%d %d %d %d\n", arr[2].a, self->s.a, g.a, this->val.a);
	exit(0);
}
