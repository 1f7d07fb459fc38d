/* dtrace: -x errtags -s $FILE */
BEGIN
{
	printf("%d\n", "not a number");
}
