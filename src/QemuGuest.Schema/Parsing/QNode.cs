using System.Collections.Generic;

namespace QemuGuest.Schema.Parsing;

// The parse tree of QAPI's JSON dialect: every value remembers where it was written, so the
// checker can point at the offending line. Internal and mutable; only the checker reads it.

internal abstract class QNode
{
    protected QNode(SourceLocation location) => Location = location;

    public SourceLocation Location { get; }

    /// <summary>How QEMU would describe the JSON kind in a message.</summary>
    public abstract string Kind { get; }
}

internal sealed class QString : QNode
{
    public QString(SourceLocation location, string value)
        : base(location) => Value = value;

    public string Value { get; }

    public override string Kind => "string";
}

internal sealed class QBool : QNode
{
    public QBool(SourceLocation location, bool value)
        : base(location) => Value = value;

    public bool Value { get; }

    public override string Kind => "boolean";
}

/// <summary>An integer; only the overlay dialect has numbers, QAPI proper has none.</summary>
internal sealed class QInt : QNode
{
    public QInt(SourceLocation location, long value)
        : base(location) => Value = value;

    public long Value { get; }

    public override string Kind => "integer";
}

internal sealed class QList : QNode
{
    public QList(SourceLocation location, List<QNode> items)
        : base(location) => Items = items;

    public List<QNode> Items { get; }

    public override string Kind => "array";
}

internal sealed class QEntry
{
    public QEntry(string key, SourceLocation keyLocation, QNode value)
    {
        Key = key;
        KeyLocation = keyLocation;
        Value = value;
    }

    public string Key { get; }

    public SourceLocation KeyLocation { get; }

    public QNode Value { get; }
}

/// <summary>An object: keys in written order, no duplicates (the parser rejects them).</summary>
internal sealed class QDict : QNode
{
    public QDict(SourceLocation location, List<QEntry> entries)
        : base(location) => Entries = entries;

    public List<QEntry> Entries { get; }

    public override string Kind => "object";

    public int Count => Entries.Count;

    public QNode? this[string key]
    {
        get
        {
            foreach (var e in Entries)
            {
                if (e.Key == key)
                {
                    return e.Value;
                }
            }
            return null;
        }
    }

    public bool Has(string key) => this[key] is not null;

    public IEnumerable<string> Keys
    {
        get
        {
            foreach (var e in Entries)
            {
                yield return e.Key;
            }
        }
    }
}
