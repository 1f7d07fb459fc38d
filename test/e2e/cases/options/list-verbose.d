/* dtrace: -lv -n dtrace:::END */
