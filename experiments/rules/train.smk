# One `marie train` job per (suite, env, map, algo, seed). The job's output is the run directory's COMPLETED
# marker, which `marie train` writes last; everything else in the run directory (checkpoints, metrics.csv)
# survives a killed or failed job, and the retry resumes from the checkpoint.


rule train:
    output:
        f"{RUNS_ROOT}/{RUN_PATTERN}/{COMPLETED_FILE}",
    log:
        f"{RESULTS}/logs/{SUITE.name}/{RUN_PATTERN}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{SUITE.name}/{RUN_PATTERN}.tsv"
    priority: run_priority
    retries: config["max_retries"]
    container:
        train_image
    threads: scheduling_threads
    resources:
        gpu=lambda wildcards: run_of(wildcards).gpu,
        mem_mb=lambda wildcards: run_of(wildcards).mem_mb,
        runtime=lambda wildcards: run_of(wildcards).runtime,
    params:
        command=train_command,
        threads=lambda wildcards: run_of(wildcards).threads,
        image_digest=train_image_digest,
    shell:
        "OMP_NUM_THREADS={params.threads} MKL_NUM_THREADS={params.threads} "
        "MARIE_IMAGE_DIGEST={params.image_digest:q} "
        "{params.command} >> {log} 2>&1"
