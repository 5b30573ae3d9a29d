namespace QemuGuest.Protocol.Marshalling;

/// <summary>
/// The one place QEMU's argument and request error texts live. Generated readers, the
/// relay's <see cref="Validation.SchemaValidator"/> and the agent's dispatcher all use these,
/// so every side says exactly what the stock qemu-ga says. Each text was checked against
/// qemu-ga 7.2 (see the generator tests, QemuErrorTextTests) or, where the stock agent has no
/// command that can reach it safely, read from QEMU's qobject-input-visitor.c / qapi-visit-core.c.
/// </summary>
public static class QapiErrorTexts
{
    /// <summary>A required member is absent: "Parameter 'path' is missing".</summary>
    public static string Missing(string fullName) => "Parameter '" + fullName + "' is missing";

    /// <summary>A member the type does not declare: "Parameter 'foo' is unexpected".</summary>
    public static string Unexpected(string fullName) => "Parameter '" + fullName + "' is unexpected";

    /// <summary>
    /// Wrong JSON kind: "Invalid parameter type for 'count', expected: integer". Expected is one
    /// of integer, number, boolean, string, null, object, array, or an alternate's type name.
    /// </summary>
    public static string InvalidType(string name, string expected) =>
        "Invalid parameter type for '" + name + "', expected: " + expected;

    /// <summary>
    /// A number outside a sized integer type: "Parameter 'x' expects uint64". QEMU uses the full
    /// name for the uint64 check but the bare member name (or "null") for the intN/uintN range check.
    /// </summary>
    public static string InvalidValue(string name, string type) => "Parameter '" + name + "' expects " + type;

    /// <summary>An enum string not in the enum: "Parameter 'whence' does not accept value 'bogus'" (bare name).</summary>
    public static string EnumValue(string name, string value) =>
        "Parameter '" + name + "' does not accept value '" + value + "'";

    /// <summary>
    /// A 'path-component' member holding more or less than one name (ours, no QEMU counterpart):
    /// "Parameter 'entries[0].name' is not a single path component: '../x' contains '/'".
    /// <paramref name="printable"/> is the value already made printable.
    /// </summary>
    public static string NotPathComponent(string fullName, string printable, string problem) =>
        "Parameter '" + fullName + "' is not a single path component: '" + printable + "' " + problem;

    /// <summary>Request envelope: not an object.</summary>
    public const string InputNotObject = "QMP input must be a JSON object";

    /// <summary>Request envelope: no "execute".</summary>
    public const string InputLacksExecute = "QMP input lacks member 'execute'";

    /// <summary>Request envelope: "execute" is not a string.</summary>
    public const string ExecuteNotString = "QMP input member 'execute' must be a string";

    /// <summary>Request envelope: "arguments" is not an object.</summary>
    public const string ArgumentsNotObject = "QMP input member 'arguments' must be an object";

    /// <summary>Request envelope: any key other than execute, arguments, id.</summary>
    public static string InputMemberUnexpected(string member) => "QMP input member '" + member + "' is unexpected";

    /// <summary>CommandNotFound for an unknown (or not-on-this-platform) command.</summary>
    public static string CommandNotFound(string command) => "The command " + command + " has not been found";

    /// <summary>CommandNotFound for a command disabled by the allow/block lists or while frozen.</summary>
    public static string CommandDisabled(string command) => "Command " + command + " has been disabled";

    /// <summary>The name QEMU prints for a value reached without a name (the root).</summary>
    public const string Anonymous = "<anonymous>";
}
