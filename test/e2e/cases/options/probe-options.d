/* dtrace: -l -P dtrace -f BEGIN -i 3 */
