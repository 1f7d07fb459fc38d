/* dtrace: -q -n BEGIN{x=1} -n BEGIN{printf("%d\n",x+1);exit(0)} */
