/* dtrace: -q */
/* inlines with parameters: each use is the body with the arguments, converted to the parameters' types */
struct s {
	int s_x;
};

translator struct s < int T > {
	s_x = T + 1;
};

inline int sum[int x, int y] = x + y;
inline int sq[int x] = x * x;
inline string pick[int i] = i ? "yes" : "no";
inline int viaxlate[int x] = (xlate < struct s > (x)).s_x;

BEGIN
{
	printf("%d %d %d %s %s %d\n", sum[10, 20], sq[7], sq[sq[2]], pick[1], pick[0], viaxlate[123]);
	exit(0);
}
