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

    /// <summary>An enum: a string parameter with ValidateSet of the wire names.</summary>
    Enum,

    /// <summary>An alternate: a string parameter converted by the value's form.</summary>
    Alternate,

    /// <summary>A struct: an object (the generated record, a hashtable or any object with the members as properties).</summary>
    Struct,
}
