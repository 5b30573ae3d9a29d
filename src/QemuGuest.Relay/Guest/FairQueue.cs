using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Relay.Guest;

/// <summary>
/// A bounded queue that serves its producers round-robin: each dequeue takes the oldest item
/// of the producer whose turn it is, then moves that producer to the back of the line. So a
/// client that pipelines many requests cannot starve one that sends a single request.
/// Bounds: items in total, items per producer, and total bytes. Thread-safe; one consumer.
/// An item queued while the consumer waits is handed to it on the producer's thread: the
/// consumer runs there up to its next wait (for the relay: the request is written to the guest
/// from the client's read loop when the channel is free, with no thread hand-off).
/// </summary>
public sealed class FairQueue<T>
    where T : class
{
    private readonly object _lock = new();
    private readonly Dictionary<object, Queue<(T Item, long Size)>> _perProducer = new(ReferenceEqualityComparer.Instance);
    private readonly Queue<object> _turns = new();
    private TaskCompletionSource<T>? _waiter;
    private readonly int _maxItems;
    private readonly int _maxPerProducer;
    private readonly long _maxBytes;
    private int _count;
    private long _bytes;

    public FairQueue(int maxItems, int maxPerProducer, long maxBytes)
    {
        _maxItems = maxItems;
        _maxPerProducer = maxPerProducer;
        _maxBytes = maxBytes;
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    public long Bytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes;
            }
        }
    }

    public EnqueueResult TryEnqueue(object producer, T item, long size)
    {
        TaskCompletionSource<T>? handTo;
        T? handed;
        lock (_lock)
        {
            if (_count >= _maxItems)
            {
                return EnqueueResult.QueueFull;
            }

            if (_bytes + size > _maxBytes)
            {
                return EnqueueResult.TooManyBytes;
            }

            if (!_perProducer.TryGetValue(producer, out var q))
            {
                q = new Queue<(T, long)>();
                _perProducer.Add(producer, q);
            }

            if (q.Count >= _maxPerProducer)
            {
                return EnqueueResult.ClientQueueFull;
            }

            if (q.Count == 0)
            {
                _turns.Enqueue(producer);
            }

            q.Enqueue((item, size));
            _count++;
            _bytes += size;
            (handTo, handed) = TakeWaiterLocked();
        }

        handTo?.SetResult(handed!);
        return EnqueueResult.Queued;
    }

    /// <summary>
    /// Puts back an item taken but never used, ahead of everything else: one producer's items
    /// are served in the order it queued them (pipelined guest-file-writes land at the file
    /// position, so an item put back behind its successors would permute the file without any
    /// error). Never refused: the item was counted in the bounds when it was queued.
    /// </summary>
    public void ReturnToFront(object producer, T item, long size)
    {
        TaskCompletionSource<T>? handTo;
        T? handed;
        lock (_lock)
        {
            var q = new Queue<(T, long)>();
            q.Enqueue((item, size));
            if (_perProducer.TryGetValue(producer, out var old))
            {
                foreach (var e in old)
                {
                    q.Enqueue(e);
                }
            }

            _perProducer[producer] = q;
            var turns = new List<object>(_turns);
            turns.Remove(producer);
            _turns.Clear();
            _turns.Enqueue(producer);
            foreach (var t in turns)
            {
                _turns.Enqueue(t);
            }

            _count++;
            _bytes += size;
            (handTo, handed) = TakeWaiterLocked();
        }

        handTo?.SetResult(handed!);
    }

    /// <summary>Waits for the next item in round-robin order (one consumer at a time).</summary>
    public async ValueTask<T> DequeueAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource<T> waiter;
        lock (_lock)
        {
            if (_count > 0)
            {
                return TakeLocked();
            }

            if (_waiter is not null)
            {
                throw new InvalidOperationException("FairQueue has one consumer");
            }

            // Continuations run on the producer's thread (no RunContinuationsAsynchronously):
            // that is the hand-off this queue exists to avoid.
            waiter = new TaskCompletionSource<T>();
            _waiter = waiter;
        }

        using (cancellationToken.Register(static s => { var (q, w, t) = ((FairQueue<T>, TaskCompletionSource<T>, CancellationToken))s!; q.Withdraw(w, t); }, (this, waiter, cancellationToken)))
        {
            return await waiter.Task.ConfigureAwait(false);
        }
    }

    /// <summary>Non-blocking dequeue of the next item, for draining.</summary>
    public bool TryDequeue(out T? item)
    {
        lock (_lock)
        {
            if (_count == 0)
            {
                item = null;
                return false;
            }

            item = TakeLocked();
            return true;
        }
    }

    /// <summary>The consumer's wait was cancelled: unless an item was already handed to it.</summary>
    private void Withdraw(TaskCompletionSource<T> waiter, CancellationToken token)
    {
        lock (_lock)
        {
            if (_waiter != waiter)
            {
                return;
            }

            _waiter = null;
        }

        waiter.TrySetCanceled(token);
    }

    private (TaskCompletionSource<T>? Waiter, T? Item) TakeWaiterLocked()
    {
        if (_waiter is not { } waiter)
        {
            return (null, null);
        }

        _waiter = null;
        return (waiter, TakeLocked());
    }

    private T TakeLocked()
    {
        object producer = _turns.Dequeue();
        var q = _perProducer[producer];
        var (item, size) = q.Dequeue();
        if (q.Count > 0)
        {
            _turns.Enqueue(producer);
        }
        else
        {
            _perProducer.Remove(producer);
        }

        _count--;
        _bytes -= size;
        return item;
    }
}
