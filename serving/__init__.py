"""TensorFlow Serving's wire API for pushed voices: a local server, a client and deploy configs."""
