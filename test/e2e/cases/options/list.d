/* dtrace: -l -n dtrace:::BEGIN -n profile:::tick-1s */
