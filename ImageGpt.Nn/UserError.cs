namespace ImageGpt.Nn;

/// <summary>
/// A mistake the user can fix (a bad file, value or option). The command line prints its
/// message on one line and exits non-zero, without a stack trace. The message names the
/// file or value and says what to do.
/// </summary>
public sealed class UserError(string message) : Exception(message);
