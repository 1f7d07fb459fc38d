/* dtrace: -q */
/* curcpu's cpuinfo_t (with Solaris's cpu_info) and lwpsinfo_t's scheduling class name */
BEGIN
{
	printf("class %s\n", curlwpsinfo->pr_clname);
	printf("state %d\n", curcpu->cpu_info.pi_state);
	printf("same cpu %d chip %d lgrp %d\n", cpu == curcpu->cpu_id, chip == curcpu->cpu_chip,
	    lgrp == curcpu->cpu_lgrp);
	printf("typed %d clock %d\n", strlen(stringof(curcpu->cpu_info.pi_processor_type)) > 0,
	    curcpu->cpu_info.pi_clock >= 0);
	exit(0);
}
