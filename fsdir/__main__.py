from fsdir.cli import main

main()
