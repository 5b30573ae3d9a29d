using System;
using System.Collections;
using System.Collections.Generic;

namespace QemuGuest.Protocol.Marshalling;

/// <summary>
/// The list generated readers return for QAPI arrays: read-only and compared by value, so
/// generated records holding lists are equal when their contents are (a plain array or
/// List&lt;T&gt; compares by reference).
/// </summary>
public sealed class QapiList<T> : IReadOnlyList<T>, IEquatable<IReadOnlyList<T>>
{
    private readonly T[] _items;

    public QapiList(T[] items) => _items = items ?? throw new ArgumentNullException(nameof(items));

    public QapiList(IEnumerable<T> items) => _items = new List<T>(items).ToArray();

    public static QapiList<T> Empty { get; } = new(Array.Empty<T>());

    public int Count => _items.Length;

    public T this[int index] => _items[index];

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();

    public bool Equals(IReadOnlyList<T>? other)
    {
        if (other is null || other.Count != _items.Length)
        {
            return false;
        }
        var cmp = EqualityComparer<T>.Default;
        for (int i = 0; i < _items.Length; i++)
        {
            if (!cmp.Equals(_items[i], other[i]))
            {
                return false;
            }
        }
        return true;
    }

    public override bool Equals(object? obj) => obj is IReadOnlyList<T> other && Equals(other);

    public override int GetHashCode()
    {
        unchecked
        {
            int hash = 17;
            var cmp = EqualityComparer<T>.Default;
            foreach (var item in _items)
            {
                hash = (hash * 31) + (item is null ? 0 : cmp.GetHashCode(item));
            }
            return hash;
        }
    }

    public override string ToString() => "[" + string.Join(", ", _items) + "]";
}
