from digpy.client.cli.main import main

raise SystemExit(main())
