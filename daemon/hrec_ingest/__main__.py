from hrec_ingest.cli import main

main()
