/* dtrace: -x errtags */
/* bcopy() and copyinto() write into alloca() storage only: a string never is (it is assigned by value) */
BEGIN
{
	s = (string)alloca(10);
	bcopy(probename, s, 5);
	exit(0);
}
