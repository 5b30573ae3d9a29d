namespace QemuGuest.Generator.Planning;

/// <summary>How a parameter's value becomes the wire value.</summary>
internal enum CmdletParameterKind
{
    /// <summary>A built-in scalar (str, ints, number): the parameter has the C# type of the member.</summary>
    Scalar,

    /// <summary>An optional bool: a SwitchParameter, sent (true or false) only when bound.</summary>
    Switch,

    /// <summary>A required bool.</summary>
    Bool,

    /// <summary>A required bool the overlay makes a switch ('as': 'switch'): always sent, false when not given.</summary>
    RequiredSwitch,

    /// <summary>
    /// A secret str ('as': 'secure-base64'): a SecureString, sent as the base64 of its UTF-8 text,
    /// so a plain string can never reach the wire as if it were already encoded.
    /// </summary>
    SecureBase64,

    /// <summary>An integer counting nanoseconds since 1970-01-01 UTC ('as': 'datetime-ns'): a DateTimeOffset.</summary>
    DateTimeNanoseconds,

    /// <summary>A number counting seconds since 1970-01-01 UTC ('as': 'datetime-s'): a DateTimeOffset.</summary>
    DateTimeSeconds,

    /// <summary>An enum: a string parameter with ValidateSet of the wire names.</summary>
    Enum,

    /// <summary>An alternate: a string parameter converted by the value's form.</summary>
    Alternate,

    /// <summary>A struct: an object (the generated record, a hashtable or any object with the members as properties).</summary>
    Struct,
}
