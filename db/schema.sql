-- filot schema for local runs and tests: the original's drizzle schema
-- (src/db/schema.ts, migrations 0000-0004) as filot-compat.md section 2.1
-- describes it.  Idempotent: applying it twice is harmless.  PostgreSQL 13+
-- (gen_random_uuid() is built in).  The worker reads and writes only
-- documents; users and manual_reviews exist for the foreign keys and for
-- the API side.

DO $$
BEGIN
    CREATE TYPE document_status AS ENUM ('uploaded', 'processing', 'completed', 'failed');
EXCEPTION
    WHEN duplicate_object THEN NULL;
END
$$;

-- Declared by the original but unused: documents.verification_status is a
-- varchar(50), not this enum.
DO $$
BEGIN
    CREATE TYPE verification_status AS ENUM ('pending', 'auto_approved', 'auto_rejected',
        'pending_manual_review', 'manually_approved', 'manually_rejected');
EXCEPTION
    WHEN duplicate_object THEN NULL;
END
$$;

DO $$
BEGIN
    CREATE TYPE review_status AS ENUM ('pending', 'approved', 'rejected');
EXCEPTION
    WHEN duplicate_object THEN NULL;
END
$$;

CREATE TABLE IF NOT EXISTS users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email varchar(255) NOT NULL UNIQUE,
    password_hash text,
    provider_id varchar(255),
    provider_type varchar(50),
    display_name varchar(255),
    mobile varchar(50),
    ktp_url text,
    npwp_url text,
    role varchar(50) DEFAULT 'user',
    verification_status varchar(50) DEFAULT 'pending',
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now()
);

CREATE TABLE IF NOT EXISTS documents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id),
    type varchar(50) NOT NULL,
    file_url text,
    status document_status DEFAULT 'uploaded',
    verification_status varchar(50) DEFAULT 'pending',
    ai_score integer,
    ai_decision varchar(50),
    buli2_ticket_id varchar(255),
    result_json jsonb,
    ocr_text text,
    created_at timestamp DEFAULT now(),
    processed_at timestamp
);

CREATE TABLE IF NOT EXISTS manual_reviews (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    document_id uuid NOT NULL REFERENCES documents (id),
    user_id uuid NOT NULL REFERENCES users (id),
    payload jsonb NOT NULL,
    status varchar(50) DEFAULT 'pending',
    decision varchar(50),
    confidence integer,
    notes text,
    buli2_task_id varchar(255),
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now()
);
