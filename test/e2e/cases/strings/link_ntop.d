/* dtrace: -q */
/* link_ntop(): Ethernet and InfiniBand addresses as hex pairs; another type is illegal */
uint8_t ib[20];

BEGIN
{
	this->mac = (uint64_t *)alloca(sizeof(uint64_t));
	*(this->mac) = htonll(0x020820ac040e << 16);
	printf("%s\n", link_ntop(ARPHRD_ETHER, this->mac));
	ib[0] = 0x80;
	ib[19] = 0xcd;
	printf("%s\n", link_ntop(ARPHRD_INFINIBAND, ib));
}

BEGIN
{
	printf("%s\n", link_ntop(7, ib));
}

ERROR
{
	exit(0);
}
