using System.Globalization;
using System.Text;

namespace QemuGuest.Protocol.Marshalling;

/// <summary>
/// Where a value sits in the JSON being read, so errors name it the way QEMU does:
/// the full name ("vcpus[0].online", "arg[1]") for missing/unexpected/type errors, and the
/// bare member name (or "null" for an array element) where QEMU's visitor core uses it
/// (intN/uintN range, enum value, alternate kind). Cheap to create; text is built only on error.
/// </summary>
public sealed class QapiPath
{
    private readonly QapiPath? _parent;
    private readonly string? _name;
    private readonly int _index;

    private QapiPath(QapiPath? parent, string? name, int index)
    {
        _parent = parent;
        _name = name;
        _index = index;
    }

    /// <summary>The root value (a command's arguments or return).</summary>
    public static QapiPath Root { get; } = new(null, null, -1);

    /// <summary>A member of the object at this path.</summary>
    public QapiPath Member(string name) => new(this, name, -1);

    /// <summary>An element of the array at this path.</summary>
    public QapiPath Element(int index) => new(this, null, index);

    /// <summary>The bare name as QEMU's visitor core prints it: the member name, or "null".</summary>
    public string BareName => _name ?? "null";

    /// <summary>The full dotted/indexed name, e.g. "vcpus[0].online"; "&lt;anonymous&gt;" for the root.</summary>
    public string FullName
    {
        get
        {
            var sb = new StringBuilder();
            Append(sb);
            return sb.Length == 0 ? QapiErrorTexts.Anonymous : sb.ToString();
        }
    }

    private void Append(StringBuilder sb)
    {
        if (_parent is null)
        {
            return;
        }
        _parent.Append(sb);
        if (_name is not null)
        {
            if (sb.Length > 0)
            {
                sb.Append('.');
            }
            sb.Append(_name);
        }
        else
        {
            sb.Append('[').Append(_index.ToString(CultureInfo.InvariantCulture)).Append(']');
        }
    }

    public override string ToString() => FullName;
}
