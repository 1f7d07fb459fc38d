/*
 * ustack() and pid probes on C++ (g++ -O2, no frame pointers): a namespaced function called by
 * a class template's const member, called by a lambda, called by main, each doing work after
 * its call so that none is a tail call.
 *   cxx-chain N   runs the chain N times; shop::fooLeaf() makes a write(2) of 0 bytes each time
 */
#include <cstdlib>
#include <string>
#include <vector>
#include <unistd.h>

namespace shop {

volatile long sink;

__attribute__((noinline)) long fooLeaf(int n)
{
	(void)write(1, "", 0);
	sink += n;
	return n + 1;
}

template <typename T> struct Basket {
	std::vector<T> items;
	__attribute__((noinline)) long fooTotal(const std::string &who) const
	{
		long s = 0;
		for (const T &x : items)
			s += fooLeaf(static_cast<int>(x));
		sink += static_cast<long>(who.size());
		return s * 2;
	}
};

} // namespace shop

int main(int argc, char **argv)
{
	int n = argc > 1 ? std::atoi(argv[1]) : 1;
	shop::Basket<int> basket{{7}};
	std::string who(argc > 2 ? argv[2] : "someone with a long name, not kept inline");
	auto run = [&](int k) __attribute__((noinline)) {
		long r = basket.fooTotal(who);
		shop::sink ^= r + k;
		return r;
	};
	long total = 0;
	for (int i = 0; i < n; i++)
		total += run(i);
	shop::sink += total;
	return 0;
}
