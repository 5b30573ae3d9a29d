using System;
using System.Collections.Generic;

namespace QemuGuest.Protocol.Validation;

// The small descriptor model the validation backend fills with generated tables: enough of the
// schema to check raw JSON in both directions without per-command code (the relay), and to
// drive a generic command cmdlet (Invoke-VMGuestRpc).

/// <summary>Built-in QAPI types.</summary>
public enum QapiBuiltin
{
    Str,
    Int,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Size,
    Number,
    Bool,
    Null,
    Any,
}

/// <summary>A QAPI type as data.</summary>
public abstract class QapiTypeDescriptor
{
    private protected QapiTypeDescriptor(string name) => Name = name;

    /// <summary>Wire name ("str", "GuestFileRead", "[str]").</summary>
    public string Name { get; }

    public override string ToString() => Name;
}

public sealed class QapiBuiltinDescriptor : QapiTypeDescriptor
{
    private QapiBuiltinDescriptor(string name, QapiBuiltin kind)
        : base(name) => Kind = kind;

    public QapiBuiltin Kind { get; }

    public static QapiBuiltinDescriptor Str { get; } = new("str", QapiBuiltin.Str);
    public static QapiBuiltinDescriptor Int { get; } = new("int", QapiBuiltin.Int);
    public static QapiBuiltinDescriptor Int8 { get; } = new("int8", QapiBuiltin.Int8);
    public static QapiBuiltinDescriptor Int16 { get; } = new("int16", QapiBuiltin.Int16);
    public static QapiBuiltinDescriptor Int32 { get; } = new("int32", QapiBuiltin.Int32);
    public static QapiBuiltinDescriptor Int64 { get; } = new("int64", QapiBuiltin.Int64);
    public static QapiBuiltinDescriptor UInt8 { get; } = new("uint8", QapiBuiltin.UInt8);
    public static QapiBuiltinDescriptor UInt16 { get; } = new("uint16", QapiBuiltin.UInt16);
    public static QapiBuiltinDescriptor UInt32 { get; } = new("uint32", QapiBuiltin.UInt32);
    public static QapiBuiltinDescriptor UInt64 { get; } = new("uint64", QapiBuiltin.UInt64);
    public static QapiBuiltinDescriptor Size { get; } = new("size", QapiBuiltin.Size);
    public static QapiBuiltinDescriptor Number { get; } = new("number", QapiBuiltin.Number);
    public static QapiBuiltinDescriptor Bool { get; } = new("bool", QapiBuiltin.Bool);
    public static QapiBuiltinDescriptor Null { get; } = new("null", QapiBuiltin.Null);
    public static QapiBuiltinDescriptor Any { get; } = new("any", QapiBuiltin.Any);
}

public sealed class QapiArrayDescriptor : QapiTypeDescriptor
{
    public QapiArrayDescriptor(QapiTypeDescriptor element)
        : base("[" + element.Name + "]") => Element = element;

    public QapiTypeDescriptor Element { get; }
}

public sealed class QapiEnumDescriptor : QapiTypeDescriptor
{
    public QapiEnumDescriptor(string name, string[] values)
        : base(name) => Values = values;

    /// <summary>Wire values, all of them (conditions are not applied by the validator).</summary>
    public IReadOnlyList<string> Values { get; }
}

/// <summary>A member of an object type.</summary>
public sealed class QapiMemberDescriptor
{
    public QapiMemberDescriptor(string name, QapiTypeDescriptor type, bool optional, bool pathComponent = false)
    {
        Name = name;
        Type = type;
        Optional = optional;
        PathComponent = pathComponent;
    }

    public string Name { get; }

    public QapiTypeDescriptor Type { get; }

    public bool Optional { get; }

    /// <summary>
    /// The member has the schema feature 'path-component': a string that must be exactly one
    /// path component (<see cref="Validation.PathComponent"/>), checked wherever the validator runs.
    /// </summary>
    public bool PathComponent { get; }
}

/// <summary>
/// A struct, or a (flat) union: <see cref="Members"/> are the struct's members or the union's
/// base members; for a union, <see cref="Discriminator"/> names the enum member whose value
/// selects the extra members in <see cref="Variants"/> (a value without an entry adds none).
/// Created empty and filled once (types may refer to each other recursively).
/// </summary>
public sealed class QapiObjectDescriptor : QapiTypeDescriptor
{
    private QapiMemberDescriptor[] _members = Array.Empty<QapiMemberDescriptor>();
    private Dictionary<string, QapiMemberDescriptor[]>? _variants;
    private string[] _known = Array.Empty<string>();

    public QapiObjectDescriptor(string name)
        : base(name)
    {
    }

    public IReadOnlyList<QapiMemberDescriptor> Members => _members;

    public string? Discriminator { get; private set; }

    public IReadOnlyDictionary<string, QapiMemberDescriptor[]>? Variants => _variants;

    /// <summary>Fills a struct.</summary>
    public void Initialize(QapiMemberDescriptor[] members)
    {
        _members = members;
        _known = Array.ConvertAll(members, m => m.Name);
    }

    /// <summary>Fills a union: base members, discriminator and variant members per value.</summary>
    public void Initialize(QapiMemberDescriptor[] members, string discriminator, Dictionary<string, QapiMemberDescriptor[]> variants)
    {
        Initialize(members);
        Discriminator = discriminator;
        _variants = variants;
    }

    internal string[] KnownNames => _known;
}

/// <summary>An alternate: the branch is chosen by the JSON kind of the value.</summary>
public sealed class QapiAlternateDescriptor : QapiTypeDescriptor
{
    private QapiTypeDescriptor[] _alternatives = Array.Empty<QapiTypeDescriptor>();

    public QapiAlternateDescriptor(string name)
        : base(name)
    {
    }

    public IReadOnlyList<QapiTypeDescriptor> Alternatives => _alternatives;

    public void Initialize(QapiTypeDescriptor[] alternatives) => _alternatives = alternatives;
}

/// <summary>
/// What the agent needs to know about a command without its types: name, whether it replies
/// on success, its 'if' condition and features (guest-info, allow/block lists, freeze gating).
/// </summary>
public sealed class QgaCommandInfo
{
    private readonly string[] _features;
    private readonly string[] _capabilities;

    public QgaCommandInfo(string name, bool successResponse, QgaCondition? condition, string[] features, string[] capabilities)
    {
        Name = name;
        SuccessResponse = successResponse;
        Condition = condition;
        _features = features;
        _capabilities = capabilities;
    }

    /// <summary>Wire name, e.g. "guest-file-read".</summary>
    public string Name { get; }

    /// <summary>False for guest-shutdown and guest-suspend-*: no reply on success.</summary>
    public bool SuccessResponse { get; }

    /// <summary>The schema 'if', or null when always present.</summary>
    public QgaCondition? Condition { get; }

    /// <summary>Feature names ("deprecated", "unstable", ...).</summary>
    public IReadOnlyList<string> Features => _features;

    public bool HasFeature(string feature) => Array.IndexOf(_features, feature) >= 0;

    /// <summary>
    /// What the command can do, from the schema's capabilities side file ("info", "file-read",
    /// "file-write", "exec", "system"): what policies allow and deny by class.
    /// </summary>
    public IReadOnlyList<string> Capabilities => _capabilities;

    public bool HasCapability(string capability) => Array.IndexOf(_capabilities, capability) >= 0;

    /// <summary>True when the command exists on <paramref name="platform"/>.</summary>
    public bool IsAvailableOn(QgaPlatform platform) => Condition is null || Condition.Evaluate(platform);

    public override string ToString() => Name;
}

/// <summary>One command of the schema as data, with its argument and return types.</summary>
public sealed class QgaCommandDescriptor
{
    public QgaCommandDescriptor(QgaCommandInfo info, QapiObjectDescriptor? arguments, QapiTypeDescriptor? returns)
    {
        Info = info;
        Arguments = arguments;
        Returns = returns;
    }

    public QgaCommandInfo Info { get; }

    public string Name => Info.Name;

    /// <summary>The argument type (its members are the "arguments" object), or null for none.</summary>
    public QapiObjectDescriptor? Arguments { get; }

    /// <summary>The return type, or null when the reply is {}.</summary>
    public QapiTypeDescriptor? Returns { get; }

    public bool SuccessResponse => Info.SuccessResponse;

    public override string ToString() => Name;
}
