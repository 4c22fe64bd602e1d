"""Offline speech for the IVR.

Recognition: asr (model check, `Recognizer`), session (`ListenSession`), grammar (vocabulary
segmentation). Prompts: tts (pyttsx3 on espeak-ng, WAV cache), text (number normalisation).
Importing the package loads neither vosk nor pyttsx3; they are imported when first used.
"""
