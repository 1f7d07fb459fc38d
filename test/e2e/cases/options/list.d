/* dtrace: -l -n BEGIN -n profile:::tick-1s */
