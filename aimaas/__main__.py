from aimaas.cli.main import main

main()
