/* dtrace: -x errtags -s $FILE */
BEGIN
{
	trace("a" * 2);
}
