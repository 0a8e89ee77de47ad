from payrequest.cli import main

main()
