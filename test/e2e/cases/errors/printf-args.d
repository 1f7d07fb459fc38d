/* dtrace: -x errtags -s $FILE */
BEGIN
{
	printf("%d %s\n", 1);
}
