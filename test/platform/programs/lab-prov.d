/* the provider of lab-target.c: its header comes from dtrace -h (no -G needed) */
provider lab {
	probe hot__call(long);
};
