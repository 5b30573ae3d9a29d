using System.Collections.Generic;
using QemuGuest.Schema.Parsing;

namespace QemuGuest.Schema.Checking;

/// <summary>A member as the expression checks normalised it ('*name' → optional, 'T' → {'type': 'T'}).</summary>
internal sealed class RawMember
{
    public RawMember(string name, QapiTypeRef type, SourceLocation typeLocation, bool optional, QapiCondition? ifCond, EquatableArray<QapiFeature> features, SourceLocation location, string definedIn)
    {
        Name = name;
        Type = type;
        TypeLocation = typeLocation;
        Optional = optional;
        If = ifCond;
        Features = features;
        Location = location;
        DefinedIn = definedIn;
    }

    public string Name { get; }

    public QapiTypeRef Type { get; }

    public SourceLocation TypeLocation { get; }

    public bool Optional { get; }

    public QapiCondition? If { get; }

    public EquatableArray<QapiFeature> Features { get; }

    public SourceLocation Location { get; }

    /// <summary>Name of the struct (possibly implicit) the member was written in.</summary>
    public string DefinedIn { get; }

    public QapiMember ToModel() => new(Name, Type, Optional, If, Features, Location);
}

/// <summary>A union or alternate branch.</summary>
internal sealed class RawBranch
{
    public RawBranch(string name, QapiTypeRef type, QapiCondition? ifCond, SourceLocation location)
    {
        Name = name;
        Type = type;
        If = ifCond;
        Location = location;
    }

    public string Name { get; }

    public QapiTypeRef Type { get; }

    public QapiCondition? If { get; }

    public SourceLocation Location { get; }
}

internal sealed class RawEnumValue
{
    public RawEnumValue(QapiEnumValue value, SourceLocation location)
    {
        Value = value;
        Location = location;
    }

    public QapiEnumValue Value { get; }

    public SourceLocation Location { get; }
}

internal sealed class RawFeature
{
    public RawFeature(QapiFeature feature, SourceLocation location)
    {
        Feature = feature;
        Location = location;
    }

    public QapiFeature Feature { get; }

    public SourceLocation Location { get; }
}

/// <summary>One definition after the context-free expression checks (QEMU's expr.py).</summary>
internal sealed class Definition
{
    public Definition(string meta, string name, SourceLocation location, ParsedDoc? doc)
    {
        Meta = meta;
        Name = name;
        Location = location;
        Doc = doc;
    }

    /// <summary>enum, struct, union, alternate, command or event.</summary>
    public string Meta { get; }

    public string Name { get; }

    public SourceLocation Location { get; }

    public ParsedDoc? Doc { get; }

    public string Context => "In " + Meta + " '" + Name + "':";

    public QapiCondition? If { get; set; }

    public List<RawFeature> Features { get; } = new();

    /// <summary>Features of members and enum values, for doc checks.</summary>
    public List<RawFeature> MemberFeatures { get; } = new();

    public EquatableArray<QapiFeature> FeatureModel()
    {
        var list = new List<QapiFeature>();
        foreach (var f in Features)
        {
            list.Add(f.Feature);
        }
        return list.ToEquatableArray();
    }

    // enum
    public List<RawEnumValue> Values { get; } = new();

    public string? Prefix { get; set; }

    // struct, union (named base), command/event (named data)
    public string? BaseName { get; set; }

    public SourceLocation BaseLocation { get; set; }

    /// <summary>Struct 'data', command/event inline 'data', or a union's inline base.</summary>
    public List<RawMember>? Members { get; set; }

    public string? DataName { get; set; }

    public SourceLocation DataLocation { get; set; }

    // union
    public string? Discriminator { get; set; }

    public SourceLocation DiscriminatorLocation { get; set; }

    /// <summary>Union or alternate branches.</summary>
    public List<RawBranch> Branches { get; } = new();

    // command
    public QapiTypeRef? Returns { get; set; }

    public SourceLocation ReturnsLocation { get; set; }

    public bool Boxed { get; set; }

    public bool SuccessResponse { get; set; } = true;

    public bool Gen { get; set; } = true;

    public bool AllowOob { get; set; }

    public bool AllowPreconfig { get; set; }

    public bool Coroutine { get; set; }

    /// <summary>The command's classes from the capabilities side file, in the file's class order.</summary>
    public List<string> Capabilities { get; } = new();

    /// <summary>The implicit type made for inline 'data' (commands/events) or an inline union base.</summary>
    public string? ImplicitName { get; set; }
}
