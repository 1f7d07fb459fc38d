/* dtrace: -q */
BEGIN
{
	printf("%s\n", strtok("a,b,,c", ","));
	printf("%s\n", strtok(NULL, ","));
	printf("%s\n", strtok(NULL, ","));
	printf("%s\n", strtok(NULL, ",") == NULL ? "end" : "more");
	exit(0);
}
