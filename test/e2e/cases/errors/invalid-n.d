/* dtrace: -n BEGIN{x=} */
