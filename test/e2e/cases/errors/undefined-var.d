/* dtrace: -x errtags -s $FILE */
BEGIN
{
	trace(nosuchvar);
}
