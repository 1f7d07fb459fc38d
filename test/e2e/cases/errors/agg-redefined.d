/* dtrace: -x errtags -s $FILE */
BEGIN
{
	@a = count();
	@a = sum(1);
}
