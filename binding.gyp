{
  "targets": [
    {
      "target_name": "stacker_native",
      "sources": ["native/stacker_native.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    },
    {
      "target_name": "stacker-nsrun",
      "type": "executable",
      "sources": ["native/stacker_nsrun.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
