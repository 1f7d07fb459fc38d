/* dtrace: -q */
BEGIN
{
	x = 5;
	if (x > 3) {
		printf("big\n");
	} else {
		printf("small\n");
	}
	if (x == 4)
		printf("four\n");
	else if (x == 5)
		printf("five\n");
	;
	;
	exit(0);
}
