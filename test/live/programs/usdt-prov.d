/* the provider of usdt-target.c, built with dtrace -h and -G */
provider myserv {
	probe query__start(char *, int);
	probe query__done(int, long long, unsigned char);
	probe tick();
};
