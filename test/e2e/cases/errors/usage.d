/* dtrace: -Q */
