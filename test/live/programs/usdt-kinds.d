/* the provider of usdt-kinds.c, built with dtrace -h and -G */
provider kinds {
	probe mem(int, long long, short);
	probe reg(int, long long);
	probe konst(int, long long, unsigned char);
};
