/* dtrace: -q */
/* storing "" keeps a string element (only 0 deletes): DTrace stores the string's address */
BEGIN
{
	path[1] = "";
	path[2] = "/a";
	self->s = "";
	printf("[%s] [%s] [%s]\n", path[1], path[2], self->s);
	path[2] = 0;
	exit(0);
}
