namespace ImageGpt.Actors.Runtime;

/// <summary>
/// Publish/subscribe by type: a subscriber to a type gets every published event of that type or of a
/// type derived from it. Publishing reads an immutable array (no lock); subscribing copies it.
/// </summary>
public sealed class EventStream
{
    private readonly Lock _lock = new();
    private volatile (IActorRef Subscriber, Type Channel)[] _subscriptions = [];

    /// <summary>False when the subscriber already had this exact subscription.</summary>
    public bool Subscribe(IActorRef subscriber, Type channel)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        ArgumentNullException.ThrowIfNull(channel);
        lock (_lock)
        {
            foreach (var s in _subscriptions)
                if (s.Subscriber.Equals(subscriber) && s.Channel == channel) return false;
            _subscriptions = [.. _subscriptions, (subscriber, channel)];
            return true;
        }
    }

    public bool Unsubscribe(IActorRef subscriber, Type channel)
    {
        lock (_lock)
        {
            var kept = _subscriptions.Where(s => !(s.Subscriber.Equals(subscriber) && s.Channel == channel)).ToArray();
            bool removed = kept.Length != _subscriptions.Length;
            _subscriptions = kept;
            return removed;
        }
    }

    /// <summary>Removes every subscription of the subscriber (the runtime does this when an actor stops).</summary>
    public void Unsubscribe(IActorRef subscriber)
    {
        lock (_lock)
        {
            if (!_subscriptions.Any(s => s.Subscriber.Equals(subscriber))) return;
            _subscriptions = _subscriptions.Where(s => !s.Subscriber.Equals(subscriber)).ToArray();
        }
    }

    public void Publish(object @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        foreach (var (subscriber, channel) in _subscriptions)
            if (channel.IsInstanceOfType(@event)) subscriber.Tell(@event, null);
    }
}
