SELECT n, date '${session_date}' + n AS day FROM generate_series(1, 3) AS n
