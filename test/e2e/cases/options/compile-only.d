/* dtrace: -e -s $FILE */
BEGIN
{
	printf("never printed\n");
}
