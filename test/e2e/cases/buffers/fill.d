/* dtrace: -q */
/* a fill buffer records until it is full, then tracing stops at the next status check */
#pragma D option bufpolicy=fill
#pragma D option bufsize=64
#pragma D option statusrate=10ms

int i;

tick-1ms { printf("%d\n", i++); }
tick-1ms { printf("%d\n", i++); }
tick-1ms { printf("%d\n", i++); }
tick-1ms { printf("%d\n", i++); }
tick-1ms { printf("%d\n", i++); }
tick-1ms { printf("%d\n", i++); }
tick-1ms { printf("%d\n", i++); }
tick-1ms { printf("%d\n", i++); }
tick-1ms { printf("%d\n", i++); }
tick-1ms { printf("%d\n", i++); }

tick-1ms
/i >= 100/
{
	exit(1);
}

END
{
	printf("end %d\n", i);
}
