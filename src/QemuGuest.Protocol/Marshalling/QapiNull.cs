using System;

namespace QemuGuest.Protocol.Marshalling;

/// <summary>The QAPI built-in type 'null': a value whose only JSON form is <c>null</c>.</summary>
public sealed class QapiNull : IEquatable<QapiNull>
{
    private QapiNull()
    {
    }

    public static QapiNull Value { get; } = new();

    public bool Equals(QapiNull? other) => other is not null;

    public override bool Equals(object? obj) => obj is QapiNull;

    public override int GetHashCode() => 0;

    public override string ToString() => "null";
}
