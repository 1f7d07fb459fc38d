/* dtrace: -x nosuchoption -n BEGIN */
