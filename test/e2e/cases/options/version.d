/* dtrace: -V */
